// The ES module entry of `imagor/express`: the same functions as `require('imagor/express')`.
import express from './express.js'

export const { imagorMiddleware, imagorUrl, imagorLocals, httpLoader } = express
export default express
